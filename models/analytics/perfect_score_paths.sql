-- One row per judged trajectory whose every judge score is the top score
-- (var perfect_score, 10 on the judge parsers' 0-10 scale): at least one
-- parsed judge score, none below the top, and no judge call on it whose
-- text failed to parse.

with

scores as (
    select * from {{ ref('judge_scores') }}
    where rater_kind = 'judge' and target_kind = 'trajectory'
),

judged as (
    select
        target_id as trajectory_id,
        max(target_node_id) as leaf_node_id,
        max(cohort_id) as cohort_id,
        max(variant_name) as variant_name,
        count(distinct rater) as judge_count,
        count(distinct template_name) as template_count,
        count(*) as judgement_count,
        min(score) as min_score,
        count(case when parse_status = 'failed' then 1 end) as failed_count,
        min(created_at) as first_judged_at,
        max(created_at) as last_judged_at
    from scores
    group by target_id
),

final as (
    select
        trajectory_id,
        leaf_node_id,
        cohort_id,
        variant_name,
        judge_count,
        template_count,
        judgement_count,
        first_judged_at,
        last_judged_at
    from judged
    where
        failed_count = 0
        and min_score >= {{ var('perfect_score') }}
)

select * from final
