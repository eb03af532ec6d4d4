"""The runner kit: plan → write ahead into the job log → work the queue (see cohort.py)."""
