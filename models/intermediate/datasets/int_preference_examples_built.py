"""One row per preference pair: prompt, chosen and rejected messages, de-identified (trellis.datasets.examples)."""

from trellis.datasets.examples import preference_examples


def model(dbt, session):
    dbt.config(materialized="table")
    pairs = dbt.ref("int_preference_pairs_unioned")
    records = dbt.ref("stg_gateway__request_records")
    chosen = records.set_alias("chosen")
    rejected = records.set_alias("rejected")
    rows = (
        pairs.set_alias("pairs")
        # node ids are unique within a tenant: both answers are of the pair's
        .join(
            chosen,
            "pairs.chosen_node_id = chosen.request_id and pairs.tenant_id = chosen.tenant_id",
        )
        .join(
            rejected,
            "pairs.rejected_node_id = rejected.request_id and pairs.tenant_id = rejected.tenant_id",
        )
        .select("pairs.pair_id, chosen.messages_json, chosen.reply_json, rejected.reply_json")
        .fetchall()
    )
    return preference_examples(rows)
