"""Rendering policies for people: English, and the definitions document."""
