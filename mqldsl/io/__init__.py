"""Files in and out: loading a policy for a command, reading journeys (every rejected record
counted), batch scoring, CSV import, CRM exports and atomic writes; and the two kinds of problem
a library call reports (:mod:`~mqldsl.io.errors`)."""
