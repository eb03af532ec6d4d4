-- One row per replay cohort, variant and judge model: the mean parsed score
-- the judge gave the variant's generations (every template, sample and node
-- pooled), the cell of a variant x judge table.

with

scores as (
    select * from {{ ref('judge_scores') }}
    where
        parse_status = 'parsed'
        and rater_kind = 'judge'
        and cohort_id is not null
        and variant_name is not null
),

final as (
    select
        cohort_id,
        variant_name,
        rater as judge_model,
        count(*) as score_count,
        -- a node id is unique within its tenant
        count(distinct concat_ws('|', tenant_id, compared_node_id)) as node_count,
        {{ trellis.round_to('avg(score)', 6) }} as mean_score
    from scores
    group by cohort_id, variant_name, rater
)

select * from final
