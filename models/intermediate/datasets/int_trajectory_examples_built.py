"""One row per trajectory: its messages in OpenAI chat format, de-identified (see trellis.datasets.examples)."""

from trellis.datasets.examples import trajectory_examples


def model(dbt, session):
    dbt.config(materialized="table")
    trajectories = dbt.ref("int_trajectories_scored")
    records = dbt.ref("stg_gateway__request_records")
    rows = (
        trajectories.join(records, "leaf_node_id = request_id")
        .select("trajectory_id, messages_json, reply_json")
        .fetchall()
    )
    return trajectory_examples(rows)
