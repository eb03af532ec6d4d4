-- One row per replay cohort and variant: how the variance of its parsed scores
-- splits between samples, judges, templates and the rest.
-- Estimator (main-effect sums of squares within nodes): nodes differ in
-- difficulty, so each score is first taken relative to its compared node's
-- mean. For a factor F (sample index, judge model, template name and
-- version), SS_F = sum over (node, level of F) of n x (mean of the cell -
-- node mean)^2, and its component is SS_F / N, N the variant's scores.
-- within_node_variance = sum of squared deviations from node means / N;
-- residual_variance = within_node_variance minus the three components,
-- floored at 0. In a balanced design (every node scored by every sample x
-- judge x template) the three components and the residual (interactions and
-- noise) add up to within_node_variance exactly; unbalanced designs make the
-- split approximate. between_node_variance = sum of n x (node mean - variant
-- mean)^2 / N. All are population (divide-by-N) variances.

with

scores as (
    select
        cohort_id,
        variant_name,
        -- a node id is unique within its tenant: the node is both
        concat_ws('|', tenant_id, compared_node_id) as compared_node_id,
        coalesce(sample_index, 0) as sample_index,
        rater,
        template_name || '@' || coalesce(template_version, '') as template_key,
        score
    from {{ ref('judge_scores') }}
    where
        parse_status = 'parsed'
        and rater_kind = 'judge'
        and cohort_id is not null
        and variant_name is not null
),

centered as (
    select
        scores.*,
        avg(scores.score)
            over (partition by scores.cohort_id, scores.variant_name, scores.compared_node_id)
            as node_mean,
        avg(scores.score) over (partition by scores.cohort_id, scores.variant_name) as variant_mean,
        avg(scores.score) over (
            partition by scores.cohort_id, scores.variant_name, scores.compared_node_id, scores.sample_index
        ) as sample_cell_mean,
        avg(scores.score) over (
            partition by scores.cohort_id, scores.variant_name, scores.compared_node_id, scores.rater
        ) as judge_cell_mean,
        avg(scores.score) over (
            partition by scores.cohort_id, scores.variant_name, scores.compared_node_id, scores.template_key
        ) as template_cell_mean
    from scores
),

summed as (
    select
        cohort_id,
        variant_name,
        count(*) as score_count,
        count(distinct compared_node_id) as node_count,
        count(distinct sample_index) as sample_count,
        count(distinct rater) as judge_count,
        count(distinct template_key) as template_count,
        avg(score) as mean_score,
        avg((score - variant_mean) * (score - variant_mean)) as total_variance,
        avg((node_mean - variant_mean) * (node_mean - variant_mean)) as between_node_variance,
        avg((score - node_mean) * (score - node_mean)) as within_node_variance,
        avg((sample_cell_mean - node_mean) * (sample_cell_mean - node_mean)) as sample_variance,
        avg((judge_cell_mean - node_mean) * (judge_cell_mean - node_mean)) as judge_variance,
        avg(
            (template_cell_mean - node_mean) * (template_cell_mean - node_mean)
        ) as template_variance
    from centered
    group by cohort_id, variant_name
),

final as (
    select
        cohort_id,
        variant_name,
        score_count,
        node_count,
        sample_count,
        judge_count,
        template_count,
        {{ trellis.round_to('mean_score', 6) }} as mean_score,
        {{ trellis.round_to('total_variance', 6) }} as total_variance,
        {{ trellis.round_to('between_node_variance', 6) }} as between_node_variance,
        {{ trellis.round_to('within_node_variance', 6) }} as within_node_variance,
        {{ trellis.round_to('sample_variance', 6) }} as between_sample_variance,
        {{ trellis.round_to('judge_variance', 6) }} as between_judge_variance,
        {{ trellis.round_to('template_variance', 6) }} as between_template_variance,
        {{ trellis.round_to(
            'greatest(within_node_variance - sample_variance - judge_variance - template_variance, 0)', 6
        ) }} as residual_variance
    from summed
)

select * from final
