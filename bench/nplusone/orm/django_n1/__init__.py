"""Django app of the N+1 corpus (bench/nplusone/orm/python_orms.py)."""
