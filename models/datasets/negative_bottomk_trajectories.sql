-- One row per trajectory chosen as a typed negative example in a training scope:
--   1. eligible: a typed negative (int_trajectories_negative_typed) in a
--      scope its tenant consents to; hallucination, tool_misuse and
--      hard_negative also need at least var dataset_min_evidence feedback
--      records behind the score (suppression_candidate and noise_reject rest
--      on the output itself);
--   2. stratified by tenant scope, agent, task cluster and negative type: the
--      var dataset_negative_k worst of each stratum, by quality_score (no
--      score counts as 0), then trajectory_id (ties broken deterministically).
with

negatives as (
    select * from {{ ref('int_trajectories_negative_typed') }}
),

scoped as (
    select * from {{ ref('int_trajectories_scoped') }}
),

eligible as (
    select
        scoped.*,
        negatives.negative_type,
        negatives.leaked_types,
        negatives.finish_reason,
        negatives.nearest_positive_similarity
    from negatives
    inner join scoped on negatives.trajectory_id = scoped.trajectory_id
    where
        negatives.negative_type in ('suppression_candidate', 'noise_reject')
        or negatives.evidence_count >= {{ var('dataset_min_evidence') }}
),

ranked as (
    select
        eligible.*,
        row_number() over (
            partition by
                eligible.tenant_scope,
                eligible.agent_id,
                eligible.task_cluster_id,
                eligible.negative_type
            order by coalesce(eligible.quality_score, 0) asc, eligible.trajectory_id asc
        ) as stratum_rank
    from eligible
),

final as (
    select
        trajectory_id,
        leaf_node_id,
        tenant_scope,
        tenant_id,
        agent_id,
        task_cluster_id,
        negative_type,
        score_source,
        evidence_feedback_ids,
        leaked_types,
        finish_reason,
        node_ids,
        policy_version,
        quality_score,
        nearest_positive_similarity,
        evidence_count,
        stratum_rank,
        pii_allowed,
        leaf_created_at
    from ranked
    where stratum_rank <= {{ var('dataset_negative_k') }}
)

select * from final
