"""Nightly rankings in 8 shards on Airflow: one task per shard, then the finalize.

Each shard task ranks one slice of the users into a staging table; `finalize` runs once every
shard task succeeded and swaps all slices in as one rankings table (it refuses, naming them, if a
shard is missing or disagrees). A failed shard task is retried on its own: re-staging a slice
replaces it. The run key is the DAG run's date, the same for all tasks of one run.

Needs: `recsys` (npm run build) on the workers' PATH, the input tables in the Postgres database
(a platform's own tables, or `recsys ingest`), and RECSYS_DB (a postgres:// URL) in the workers'
environment. Airflow >= 2.4.
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

SHARDS = 8
RUN_KEY = "nightly-{{ ds_nodash }}"

with DAG(
    dag_id="recsys_nightly",
    schedule="0 2 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
) as dag:
    shards = [
        BashOperator(
            task_id=f"shard_{i}",
            bash_command=f"recsys pipeline --method factorization --shards {SHARDS} --shard {i} --run-key {RUN_KEY} --wait 600",
        )
        for i in range(SHARDS)
    ]
    finalize = BashOperator(
        task_id="finalize",
        bash_command=f"recsys pipeline --finalize --shards {SHARDS} --run-key {RUN_KEY} --wait 600",
    )
    shards >> finalize
