-- One row per trajectory and category at least one judge named, from the
-- labelling answers the judge runner wrote (feedback with source judge and a
-- parsed `labels` object in its metadata; see examples/judge_labels.yaml).
--   1. Each judge model counts once per trajectory: its latest parsed answer.
--      Answers that did not parse (labels null, raw text kept) count for none.
--   2. confidence = the sum of the judges' confidences for the category over
--      the number of judges that answered: a judge that left the category out
--      gave it 0.
--   3. named_by_judges and answering_judges say how far the judges agree.

with

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
    where feedback_source = 'judge'
),

answers as (
    select
        feedback_id,
        json_extract_string(metadata_json, '$.target_id') as trajectory_id,
        json_extract_string(metadata_json, '$.judge_model') as judge_model,
        json_extract(metadata_json, '$.labels.categories') as categories_json,
        created_at,
        row_number() over (
            partition by
                json_extract_string(metadata_json, '$.target_id'), json_extract_string(metadata_json, '$.judge_model')
            order by created_at desc, feedback_id desc
        ) as recency
    from feedback
    where
        json_extract_string(metadata_json, '$.target_kind') = 'trajectory'
        and json_type(json_extract(metadata_json, '$.labels')) = 'OBJECT'
),

latest as (
    select
        *,
        count(*) over (partition by trajectory_id) as answering_judges
    from answers
    where recency = 1
),

named as (
    select
        latest.feedback_id,
        latest.trajectory_id,
        latest.judge_model,
        latest.answering_judges,
        latest.created_at,
        unnest(
            from_json(
                latest.categories_json, '[{"category": "VARCHAR", "confidence": "DOUBLE", "evidence": "VARCHAR"}]'
            )
        ) as label
    from latest
),

judged as (
    select
        named.trajectory_id,
        label.category,
        sum(label.confidence) / max(answering_judges) as confidence,
        to_json(
            list(
                {
                    'feedback_id': named.feedback_id,
                    'judge_model': named.judge_model,
                    'confidence': label.confidence,
                    'evidence': label.evidence
                }
                order by named.judge_model
            )
        ) as judges_json,
        count(distinct named.judge_model) as named_by_judges,
        max(answering_judges) as answering_judges,
        max(named.created_at) as labeled_at
    from named
    group by named.trajectory_id, label.category
)

select * from judged
