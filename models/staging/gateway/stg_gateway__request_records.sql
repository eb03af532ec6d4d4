-- One row per request: its context messages and its reply as JSON text, the
-- way the gateway logged them (contract section 1), for the training
-- examples of models/datasets. A view: the dataset models read the few
-- requests they need (leaves of chosen trajectories, answers of pairs).
-- DuckDB targets only, like the datasets.
with

source as (
    select * from {{ source('gateway', 'requests') }}
),

extracted as (
    select
        request_id,
        tenant_id,
        json_extract(record, '$.request.messages')::varchar as messages_json,
        json_extract(record, '$.response.choices[0].message')::varchar as reply_json,
        json_extract_string(record, '$.response.choices[0].finish_reason') as finish_reason
    from source
)

select * from extracted
