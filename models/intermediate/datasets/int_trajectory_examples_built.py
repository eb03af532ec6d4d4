"""One row per trajectory: its messages in OpenAI chat format, de-identified (see trellis.datasets.examples)."""

from trellis.datasets.examples import trajectory_examples


def model(dbt, session):
    dbt.config(materialized="table")
    trajectories = dbt.ref("int_trajectories_scored").set_alias("trajectories")
    records = dbt.ref("stg_gateway__request_records").set_alias("records")
    rows = (
        # a leaf's node id is unique within its tenant: the record is of the trajectory's
        trajectories.join(
            records,
            "trajectories.leaf_node_id = records.request_id "
            "and trajectories.tenant_id = records.tenant_id",
        )
        .select("trajectories.trajectory_id, records.messages_json, records.reply_json")
        .fetchall()
    )
    return trajectory_examples(rows)
