-- One row per positive trajectory and training scope: its conversation in
-- OpenAI chat format (tool calls included), de-identified, with provenance.
-- The positives are positive_topk_trajectories (consent and stratification
-- applied there); example_id is stable: md5 of 'sft', the scope and the
-- trajectory.
with

positives as (
    select * from {{ ref('positive_topk_trajectories') }}
),

examples as (
    select * from {{ ref('int_trajectory_examples_built') }}
),

final as (
    select
        md5('sft|' || positives.tenant_scope || '|' || positives.trajectory_id) as example_id,
        positives.tenant_scope,
        examples.messages_json as messages,
        positives.trajectory_id,
        {{ trellis.dataset_provenance(
            'positives.node_ids',
            'positives.trajectory_id',
            'positives.evidence_feedback_ids',
            'positives.tenant_id',
            'positives.policy_version',
            "'score_source': positives.score_source, 'quality_score': positives.quality_score"
        ) }} as provenance,
        positives.quality_score
    from positives
    inner join examples on positives.trajectory_id = examples.trajectory_id
)

select * from final
