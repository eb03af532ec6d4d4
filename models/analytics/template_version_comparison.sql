-- One row per template name, template version and judge model: the mean of
-- its parsed scores, their count and a 95% confidence interval of the mean,
-- mean +- t(0.975, n - 1) x sample standard deviation / sqrt(n) (Student's t
-- from seed student_t_critical_values; beyond its 120 degrees of freedom the
-- Cornish-Fisher expansion z + (z^3 + z) / 4v + (5z^5 + 16z^3 + 3z) / 96v^2 +
-- (3z^7 + 19z^5 + 17z^3 - 15z) / 384v^3 with z = 1.959964, within 1e-8 of
-- the t quantile there; null for fewer than 2 scores).

with

scores as (
    select * from {{ ref('judge_scores') }}
    where parse_status = 'parsed' and rater_kind = 'judge'
),

t_values as (
    select * from {{ ref('student_t_critical_values') }}
),

summarised as (
    select
        template_name,
        template_version,
        judge_model,
        count(*) as score_count,
        avg(score) as mean_score,
        stddev_samp(score) as score_stddev
    from scores
    group by template_name, template_version, judge_model
),

with_interval as (
    select
        summarised.*,
        case
            when summarised.score_count >= 2
                then
                    coalesce(
                        t_values.t_975,
                        1.959964
                        + 2.372271 / (summarised.score_count - 1)
                        + 2.822499 / power(summarised.score_count - 1, 2)
                        + 2.55585 / power(summarised.score_count - 1, 3)
                    )
                    * summarised.score_stddev / sqrt(summarised.score_count)
        end as half_width
    from summarised
    left join t_values
        on summarised.score_count - 1 = t_values.degrees_of_freedom
),

final as (
    select
        coalesce(template_name, 'unknown') as template_name,
        coalesce(template_version, 'unknown') as template_version,
        coalesce(judge_model, 'unknown') as judge_model,
        score_count,
        {{ trellis.round_to('mean_score', 6) }} as mean_score,
        {{ trellis.round_to('score_stddev', 6) }} as score_stddev,
        {{ trellis.round_to('mean_score - half_width', 6) }} as ci_low,
        {{ trellis.round_to('mean_score + half_width', 6) }} as ci_high
    from with_interval
)

select * from final
