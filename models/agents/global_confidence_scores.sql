with

scores as (
    select * from {{ ref('int_model_confidence_scored') }}
),

final as (
    select
        model,
        score_date,
        observation_count,
        success_count,
        window_observation_count,
        window_success_count,
        global_confidence_score
    from scores
)

select * from final
