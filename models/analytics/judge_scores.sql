-- One row per judgement: a judge's feedback record (source judge) or a human
-- reviewer's scored feedback (source human, with metadata.score or
-- completion_quality).
-- 1. The target node is the feedback's request (of the feedback's tenant,
--    int_feedback_tenants_resolved; the replayed node is of that tenant too): the trajectory's leaf or the
--    response group's member the judge read.
-- 2. When that node is a replay, its cohort, variant (variant_config.name) and
--    sample index come from the replay's request record; the compared node
--    is the request it replays. Otherwise cohort and variant are null and the
--    compared node is the target node itself.
-- 3. The score is metadata.score, else completion_quality (judges that log
--    only that); a judgement is parsed when it holds a score, and a judge call
--    whose text held none keeps its parse error and a null score.
-- 4. A judge record naming no template counts under template `unspecified`.

with

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
    where
        feedback_source = 'judge'
        or (
            feedback_source = 'human'
            and coalesce(metadata_score, completion_quality) is not null
        )
),

requests as (
    select
        request_id,
        tenant_id,
        replay_of_request_id,
        cohort_id,
        variant_config,
        metadata_json
    from {{ ref('stg_gateway__requests') }}
),

joined as (
    select
        feedback.feedback_id,
        feedback.tenant_id,
        feedback.request_id as target_node_id,
        coalesce(requests.replay_of_request_id, feedback.request_id) as compared_node_id,
        coalesce(feedback.target_id, feedback.request_id) as target_id,
        coalesce(feedback.target_kind, 'node') as target_kind,
        requests.cohort_id,
        {{ trellis.json_text_field('requests.variant_config', 'name') }} as variant_name,
        {{ trellis.json_text_field('requests.metadata_json', 'sample_index') }} as sample_index_text,
        feedback.judge_cohort_id,
        feedback.feedback_source as rater_kind,
        feedback.judge_model,
        case
            when feedback.feedback_source = 'judge'
                then coalesce(feedback.template_name, 'unspecified')
            else feedback.template_name
        end as template_name,
        feedback.template_version,
        coalesce(feedback.metadata_score, feedback.completion_quality) as score,
        feedback.parse_error,
        feedback.created_at
    from feedback
    left join requests
        on
            feedback.request_id = requests.request_id
            and feedback.tenant_id = requests.tenant_id
),

final as (
    select
        feedback_id,
        tenant_id,
        target_node_id,
        compared_node_id,
        target_id,
        target_kind,
        cohort_id,
        variant_name,
        judge_cohort_id,
        case
            when rater_kind = 'human' then 'human'
            else coalesce(judge_model, 'unknown')
        end as rater,
        rater_kind,
        judge_model,
        template_name,
        template_version,
        case
            when score is not null then 'parsed'
            else 'failed'
        end as parse_status,
        parse_error,
        cast(sample_index_text as integer) as sample_index,
        score,
        created_at
    from joined
)

select * from final
