"""The Captain's Log: decisions as MLflow runs, linked to the runs they concern.

model.py (the record), markdown.py (the log format both ways), verify.py (checkable
criteria), numbers.py (unique consecutive numbers), store.py (MLflow), logfile.py
(import/export), compose.py (a new record from options, a file or edited text). Prompts, the
editor and tables are the CLI's.
"""
