{{
    config(
        materialized='incremental',
        unique_key='feedback_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set fields = [
    {'name': 'agent_id', 'path': ['agent_id'], 'type': 'text'},
    {'name': 'reviewer_id', 'path': ['reviewer_id'], 'type': 'text'},
    {'name': 'outcome', 'path': ['outcome'], 'type': 'text'},
    {'name': 'reported_source', 'path': ['source'], 'type': 'text'},
    {'name': 'feedback_comment', 'path': ['comment'], 'type': 'text'},
    {'name': 'metadata_json', 'path': ['metadata'], 'type': 'json'},
    {'name': 'completion_quality', 'path': ['completion_quality'], 'type': 'double'},
    {'name': 'rating', 'path': ['rating'], 'type': 'integer'},
] -%}

with

source as (
    select * from {{ source('gateway', 'feedback') }}
    {% if is_incremental() %}
        where ingested_at > {{ trellis.stored_watermark('ingested_at') }}
    {% endif %}
),

parsed as (
    select
        feedback_id,
        request_id,
        created_at,
        ingested_at,
        {{ trellis.json_fields_parse('record', fields) }}
    from source
),

renamed as (
    select
        parsed.feedback_id,
        parsed.request_id,
        parsed.created_at,
        parsed.ingested_at,
        {{ trellis.json_fields_select(fields) }}
    from parsed
),

normalized as (
    select
        feedback_id,
        request_id,
        agent_id,
        reviewer_id,
        outcome,
        coalesce(reported_source, 'auto') as feedback_source,
        feedback_comment,
        metadata_json,
        completion_quality,
        rating,
        created_at,
        ingested_at
    from renamed
)

select * from normalized
