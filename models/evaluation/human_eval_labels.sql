-- One row per trajectory, reviewer and category: each reviewer's latest review
-- of the trajectory that gave categories (a list, empty when none applies;
-- a review with a score only is a preference signal, not a label), whether it
-- assigned the category, and how far the reviewers of the trajectory agree.
--   1. agreement = the share of the trajectory's reviewers on the majority side
--      (assigned or not): 1 when all agree, 0.5 for an even split of two.

with

reviews as (
    select * from {{ ref('int_human_reviews_parsed') }}
    where trajectory_id is not null and has_categories
),

latest as (
    select
        *,
        row_number() over (
            partition by trajectory_id, reviewer_id
            order by created_at desc, feedback_id desc
        ) as recency
    from reviews
),

categories as (
    select unnest([
        'tool_helped', 'tool_misuse', 'hallucination', 'good_recovery',
        'overlong', 'underspecified', 'stable_high_quality'
    ]) as category
),

labeled as (
    select
        latest.trajectory_id,
        latest.reviewer_id,
        categories.category,
        latest.feedback_id,
        latest.quality_score,
        list_contains(latest.categories, categories.category) as is_assigned,
        latest.created_at as reviewed_at
    from latest
    cross join categories
    where latest.recency = 1
),

agreed as (
    select
        labeled.*,
        count(*) over (partition by labeled.trajectory_id, labeled.category) as reviewer_count,
        count(*) filter (where labeled.is_assigned) over (partition by labeled.trajectory_id, labeled.category)
            as assigning_reviewers
    from labeled
),

final as (
    select
        trajectory_id,
        reviewer_id,
        category,
        feedback_id,
        cast(quality_score as double) as quality_score,
        reviewer_count,
        assigning_reviewers,
        cast(greatest(assigning_reviewers, reviewer_count - assigning_reviewers) as double)
        / reviewer_count as agreement,
        is_assigned,
        reviewed_at
    from agreed
)

select * from final
