-- One row per human review (feedback with source human), its metadata keys
-- read into columns (contract section 2, "Human review metadata"):
--   1. The trajectory is metadata.trajectory_id, else the trajectory ending at
--      the reviewed call (a review is about a path that ends there).
--   2. categories is metadata.categories (a list of names; absent: none given).
--   3. A pairwise choice is metadata.pairwise_choice.chosen_request_id and
--      .rejected_request_id; both or neither.

with

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
    where feedback_source = 'human'
),

trajectories as (
    select * from {{ ref('trajectory_units') }}
),

parsed as (
    select
        feedback.feedback_id,
        feedback.request_id as node_id,
        -- the reviewed call's tenant: the chosen and rejected ids are of it too
        feedback.tenant_id,
        coalesce(
            json_extract_string(feedback.metadata_json, '$.trajectory_id'),
            trajectories.trajectory_id
        ) as trajectory_id,
        coalesce(feedback.reviewer_id, 'anonymous') as reviewer_id,
        json_extract_string(feedback.metadata_json, '$.review_task_id') as review_task_id,
        json_extract_string(feedback.metadata_json, '$.pairwise_choice.chosen_request_id') as chosen_node_id,
        json_extract_string(feedback.metadata_json, '$.pairwise_choice.rejected_request_id') as rejected_node_id,
        coalesce(
            from_json(json_extract(feedback.metadata_json, '$.categories'), '["VARCHAR"]'),
            []
        ) as categories,
        feedback.completion_quality as quality_score,
        json_type(json_extract(feedback.metadata_json, '$.categories')) = 'ARRAY' as has_categories,
        feedback.created_at
    from feedback
    left join trajectories
        on
            feedback.request_id = trajectories.leaf_node_id
            and feedback.tenant_id = trajectories.tenant_id
)

select * from parsed
