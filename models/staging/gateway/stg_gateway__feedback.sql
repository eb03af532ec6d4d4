{{
    config(
        materialized='incremental',
        unique_key='feedback_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

source as (
    select * from {{ source('gateway', 'feedback') }}
    {% if is_incremental() %}
        where ingested_at > (select max(this.ingested_at) from {{ this }} as this)
    {% endif %}
),

renamed as (
    select
        feedback_id,
        request_id,
        {{ trellis.json_text('record', ['agent_id']) }} as agent_id,
        {{ trellis.json_text('record', ['reviewer_id']) }} as reviewer_id,
        {{ trellis.json_text('record', ['outcome']) }} as outcome,
        coalesce({{ trellis.json_text('record', ['source']) }}, 'auto') as feedback_source,
        {{ trellis.json_text('record', ['comment']) }} as feedback_comment,
        {{ trellis.json_to_text(trellis.json_value('record', ['metadata'])) }} as metadata_json,
        cast({{ trellis.json_text('record', ['completion_quality']) }} as double precision) as completion_quality,
        cast({{ trellis.json_text('record', ['rating']) }} as integer) as rating,
        created_at,
        ingested_at
    from source
)

select * from renamed
