-- One row per trajectory chosen as a positive example in a training scope:
--   1. eligible: quality_score (int_trajectories_scored) at least var
--      dataset_positive_min_score, resting on at least var dataset_min_evidence
--      feedback records, in a scope its tenant consents to (int_trajectories_scoped);
--   2. stratified by tenant scope, agent and task cluster: the var
--      dataset_positive_k best of each stratum, by quality_score, then
--      evidence_count, then trajectory_id (ties broken deterministically).
with

scoped as (
    select * from {{ ref('int_trajectories_scoped') }}
),

eligible as (
    select * from scoped
    where
        quality_score >= {{ var('dataset_positive_min_score') }}
        and evidence_count >= {{ var('dataset_min_evidence') }}
),

ranked as (
    select
        eligible.*,
        row_number() over (
            partition by eligible.tenant_scope, eligible.agent_id, eligible.task_cluster_id
            order by
                eligible.quality_score desc,
                eligible.evidence_count desc,
                eligible.trajectory_id asc
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
        score_source,
        evidence_feedback_ids,
        node_ids,
        policy_version,
        quality_score,
        evidence_count,
        stratum_rank,
        pii_allowed,
        leaf_created_at
    from ranked
    where stratum_rank <= {{ var('dataset_positive_k') }}
)

select * from final
