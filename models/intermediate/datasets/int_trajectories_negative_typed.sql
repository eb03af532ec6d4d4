-- One row per trajectory that is a negative example, with its one type. The
-- first rule that holds gives the type (never treated alike downstream):
--   1. suppression_candidate: an assistant turn leaked what a
--      de-identification detector finds (personal data or a secret, seed
--      deid_detectors), found before the examples were de-identified;
--   2. hallucination: a rule or model label says so (trajectory_category_labels);
--   3. tool_misuse: a rule or model label says so;
--   4. noise_reject: the final answer is empty, cut off (finish_reason
--      length), garbage (at least var dataset_garbage_min_chars characters of
--      which under var dataset_garbage_min_letter_share are letters, or under
--      var dataset_garbage_min_distinct_share are distinct characters), off
--      topic (scored at most var dataset_negative_max_score with at least var
--      dataset_min_evidence, and its behavior-view embedding has cosine
--      similarity under var dataset_off_topic_max_similarity to its own
--      task-view embedding), or the final call failed (error, timeout,
--      cancelled);
--   5. hard_negative: scored at most var dataset_negative_max_score with at
--      least var dataset_min_evidence, yet its task-view embedding has cosine
--      similarity at least var dataset_hard_negative_similarity to a
--      trajectory of the same task cluster scored at least var
--      dataset_positive_min_score (a near miss a model must learn to tell apart).
-- A low-scored trajectory that fits no rule is not a typed negative and is left out.
with

scored as (
    select * from {{ ref('int_trajectories_scored') }}
),

examples as (
    select * from {{ ref('int_trajectory_examples_built') }}
),

labels as (
    select * from {{ ref('trajectory_category_labels') }}
),

records as (
    select * from {{ ref('stg_gateway__request_records') }}
),

all_embeddings as (
    select * from {{ ref('trajectory_embeddings') }}
),

embeddings as (
    select * from all_embeddings
    where view = 'task'
),

replies as (
    select
        request_id,
        tenant_id,
        coalesce(json_extract_string(reply_json, '$.content'), '') as reply_text
    from records
),

replies_measured as (
    select
        request_id,
        tenant_id,
        length(reply_text) as reply_chars,
        length(regexp_replace(reply_text, '[^[:alpha:]]', '', 'g')) as reply_letters,
        length(list_distinct(string_split(reply_text, ''))) as reply_distinct_chars
    from replies
),

off_topic as (
    select
        task.trajectory_id,
        list_cosine_similarity(task.embedding, behavior.embedding) as task_behavior_similarity
    from all_embeddings as task
    inner join all_embeddings as behavior
        on
            task.trajectory_id = behavior.trajectory_id
            and task.embedder = behavior.embedder
    where task.view = 'task' and behavior.view = 'behavior'
),

label_flags as (
    select
        trajectory_id,
        bool_or(category = 'hallucination') as is_labeled_hallucination,
        bool_or(category = 'tool_misuse') as is_labeled_tool_misuse
    from labels
    group by trajectory_id
),

embedded as (
    select
        scored.trajectory_id,
        scored.task_cluster_id,
        scored.quality_score,
        scored.evidence_count,
        embeddings.embedding
    from scored
    inner join embeddings on scored.trajectory_id = embeddings.trajectory_id
),

nearest_positive as (
    select
        low.trajectory_id,
        max(list_cosine_similarity(low.embedding, high.embedding)) as similarity
    from embedded as low
    inner join embedded as high
        on
            low.task_cluster_id = high.task_cluster_id
            and low.trajectory_id != high.trajectory_id
    where
        low.quality_score <= {{ var('dataset_negative_max_score') }}
        and low.evidence_count >= {{ var('dataset_min_evidence') }}
        and high.quality_score >= {{ var('dataset_positive_min_score') }}
        and high.evidence_count >= {{ var('dataset_min_evidence') }}
    group by low.trajectory_id
),

typed as (
    select
        scored.*,
        examples.leaked_types,
        records.finish_reason,
        cast(nearest_positive.similarity as double) as nearest_positive_similarity,
        case
            when examples.leaked_types != '[]' then 'suppression_candidate'
            when label_flags.is_labeled_hallucination then 'hallucination'
            when label_flags.is_labeled_tool_misuse then 'tool_misuse'
            when
                examples.is_reply_empty
                or records.finish_reason = 'length'
                or scored.final_status in ('error', 'timeout', 'cancelled')
                or (
                    replies_measured.reply_chars >= {{ var('dataset_garbage_min_chars') }}
                    and (
                        replies_measured.reply_letters
                        < {{ var('dataset_garbage_min_letter_share') }} * replies_measured.reply_chars
                        or replies_measured.reply_distinct_chars
                        < {{ var('dataset_garbage_min_distinct_share') }} * replies_measured.reply_chars
                    )
                )
                or (
                    scored.quality_score <= {{ var('dataset_negative_max_score') }}
                    and scored.evidence_count >= {{ var('dataset_min_evidence') }}
                    and off_topic.task_behavior_similarity < {{ var('dataset_off_topic_max_similarity') }}
                )
                then 'noise_reject'
            when
                nearest_positive.similarity >= {{ var('dataset_hard_negative_similarity') }}
                then 'hard_negative'
        end as negative_type
    from scored
    inner join examples on scored.trajectory_id = examples.trajectory_id
    left join records
        on
            scored.leaf_node_id = records.request_id
            and scored.tenant_id = records.tenant_id
    left join replies_measured
        on
            scored.leaf_node_id = replies_measured.request_id
            and scored.tenant_id = replies_measured.tenant_id
    left join off_topic on scored.trajectory_id = off_topic.trajectory_id
    left join label_flags on scored.trajectory_id = label_flags.trajectory_id
    left join nearest_positive on scored.trajectory_id = nearest_positive.trajectory_id
)

select * from typed
where negative_type is not null
