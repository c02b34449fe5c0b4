"""Rendering for people: policies in English, the semantic diff, the definitions document,
and the simulation, what-if and sweep reports (Jinja2 templates in ``templates/``)."""
