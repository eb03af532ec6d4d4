-- One row per preference pair a DPO dataset may use, human first:
--   1. preference_labels (human-confirmed pairs; contested ones are left out),
--      preference_source 'human';
--   2. when var dataset_dpo_sources is 'both' or 'candidates',
--      candidate_preference_pairs not already confirmed by a human, with
--      their own source (judge or auto; human-scored candidates are already
--      in preference_labels). With 'human' only the first.
-- score_margin comes from the candidate pair when one exists.
with

labels as (
    select * from {{ ref('preference_labels') }}
    where not is_contested
),

candidates as (
    select * from {{ ref('candidate_preference_pairs') }}
),

confirmed as (
    select
        labels.pair_id,
        labels.tenant_id,
        labels.chosen_node_id,
        labels.rejected_node_id,
        'human' as preference_source,
        labels.feedback_ids,
        candidates.score_margin,
        1 as source_rank
    from labels
    left join candidates on labels.pair_id = candidates.pair_id
),

unconfirmed as (
    select
        candidates.pair_id,
        candidates.tenant_id,
        candidates.chosen_node_id,
        candidates.rejected_node_id,
        candidates.preference_source,
        '[]' as feedback_ids,
        candidates.score_margin,
        2 as source_rank
    from candidates
    where
        {{ 'true' if var('dataset_dpo_sources') in ('both', 'candidates') else 'false' }}
        and candidates.preference_source != 'human'
        and candidates.pair_id not in (select confirmed.pair_id from confirmed)
),

unioned as (
    select * from confirmed
    union all
    select * from unconfirmed
)

select * from unioned
