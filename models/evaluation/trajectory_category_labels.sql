-- One row per trajectory, category and label source: rule labels from facts
-- and model labels from judges, side by side and never merged (humans have
-- their own layer, human_eval_labels).

with

trajectories as (
    select * from {{ ref('trajectory_units') }}
),

ruled as (
    select * from {{ ref('int_trajectory_categories_ruled') }}
),

judged as (
    select * from {{ ref('int_trajectory_categories_judged') }}
),

rule_labels as (
    select
        ruled.trajectory_id,
        trajectories.tenant_id,
        ruled.category,
        'rule' as label_source,
        cast(1.0 as double) as confidence,
        cast(to_json({ 'rule': ruled.rule, 'nodes': ruled.evidence_nodes }) as varchar) as evidence,
        ruled.labeled_at
    from ruled
    inner join trajectories on ruled.trajectory_id = trajectories.trajectory_id
),

model_labels as (
    select
        judged.trajectory_id,
        trajectories.tenant_id,
        judged.category,
        'model' as label_source,
        cast(judged.confidence as double) as confidence,
        cast(
            to_json({ 'judges': judged.judges_json, 'nodes': [trajectories.leaf_node_id] }) as varchar
        ) as evidence,
        judged.labeled_at
    from judged
    inner join trajectories on judged.trajectory_id = trajectories.trajectory_id
),

labels as (
    select * from rule_labels
    union all
    select * from model_labels
)

select * from labels
