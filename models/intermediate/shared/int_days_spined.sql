-- One row per UTC day from the first to the last day with any call, so days
-- without traffic still get rows downstream.
with

requests as (
    select created_at from {{ ref('stg_gateway__requests') }}
),

bounds as (
    select
        min(cast(created_at at time zone 'UTC' as date)) as first_date,
        max(cast(created_at at time zone 'UTC' as date)) as last_date
    from requests
),

spined as (
    select cast(series.day_at as date) as spine_date
    from bounds
    cross join lateral generate_series(
        cast(bounds.first_date as timestamp), cast(bounds.last_date as timestamp), interval '1 day'
    ) as series (day_at)
)

select * from spined
