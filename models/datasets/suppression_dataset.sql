-- One row per typed negative trajectory and training scope whose type is one
-- of the outputs a model must not produce again: leaks of personal data or
-- secrets (suppression_candidate) and empty, cut-off or failed answers
-- (noise_reject). From negative_bottomk_trajectories (consent and
-- stratification applied there); the conversation de-identified, the type
-- carried on every row.
with

negatives as (
    select * from {{ ref('negative_bottomk_trajectories') }}
    where negative_type in ('suppression_candidate', 'noise_reject')
),

examples as (
    select * from {{ ref('int_trajectory_examples_built') }}
),

final as (
    select
        md5('suppression|' || negatives.tenant_scope || '|' || negatives.trajectory_id) as example_id,
        negatives.tenant_scope,
        negatives.negative_type,
        examples.messages_json as messages,
        negatives.trajectory_id,
        {{ trellis.dataset_provenance(
            'negatives.node_ids',
            'negatives.trajectory_id',
            'negatives.evidence_feedback_ids',
            'negatives.tenant_id',
            'negatives.policy_version',
            "'negative_type': negatives.negative_type, 'leaked_types': from_json(negatives.leaked_types, '[\"VARCHAR\"]')"
        ) }} as provenance,
        negatives.quality_score
    from negatives
    inner join examples on negatives.trajectory_id = examples.trajectory_id
)

select * from final
