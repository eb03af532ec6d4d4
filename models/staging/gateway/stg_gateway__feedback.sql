{{
    config(
        materialized='incremental',
        unique_key='feedback_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set fields = [
    {'name': 'named_tenant_id', 'path': ['tenant_id'], 'type': 'text'},
    {'name': 'agent_id', 'path': ['agent_id'], 'type': 'text'},
    {'name': 'reviewer_id', 'path': ['reviewer_id'], 'type': 'text'},
    {'name': 'outcome', 'path': ['outcome'], 'type': 'text'},
    {'name': 'reported_source', 'path': ['source'], 'type': 'text'},
    {'name': 'feedback_comment', 'path': ['comment'], 'type': 'text'},
    {'name': 'metadata_json', 'path': ['metadata'], 'type': 'json'},
    {'name': 'completion_quality', 'path': ['completion_quality'], 'type': 'double'},
    {'name': 'rating', 'path': ['rating'], 'type': 'integer'},
] -%}

{#- The judge runner's metadata (python/trellis/runners/judge/executor.py), parsed
    1:1; a human reviewer may set template_id, template_version and score too. -#}
{%- set metadata_fields = [
    {'name': 'template_name', 'path': ['metadata', 'template_id'], 'type': 'text'},
    {'name': 'template_version', 'path': ['metadata', 'template_version'], 'type': 'text'},
    {'name': 'judge_model', 'path': ['metadata', 'judge_model'], 'type': 'text'},
    {'name': 'judge_served_model', 'path': ['metadata', 'served_model'], 'type': 'text'},
    {'name': 'score_parser', 'path': ['metadata', 'parser'], 'type': 'text'},
    {'name': 'metadata_score', 'path': ['metadata', 'score'], 'type': 'double'},
    {'name': 'parse_error', 'path': ['metadata', 'parse_error'], 'type': 'text'},
    {'name': 'judge_cohort_id', 'path': ['metadata', 'cohort_id'], 'type': 'text'},
    {'name': 'judge_task_id', 'path': ['metadata', 'task_id'], 'type': 'text'},
    {'name': 'target_kind', 'path': ['metadata', 'target_kind'], 'type': 'text'},
    {'name': 'target_id', 'path': ['metadata', 'target_id'], 'type': 'text'},
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
        {{ trellis.json_fields_parse('record', fields) }},
        {{ trellis.json_fields_parse('record', metadata_fields, alias='_meta') }}
    from source
),

renamed as (
    select
        parsed.feedback_id,
        parsed.request_id,
        parsed.created_at,
        parsed.ingested_at,
        {{ trellis.json_fields_select(fields) }},
        {{ trellis.json_fields_select(metadata_fields, alias='_meta') }}
    from parsed
),

normalized as (
    select
        feedback_id,
        request_id,
        named_tenant_id,
        agent_id,
        reviewer_id,
        outcome,
        coalesce(reported_source, 'auto') as feedback_source,
        feedback_comment,
        metadata_json,
        completion_quality,
        rating,
        template_name,
        template_version,
        judge_model,
        judge_served_model,
        score_parser,
        metadata_score,
        parse_error,
        judge_cohort_id,
        judge_task_id,
        target_kind,
        target_id,
        created_at,
        ingested_at
    from renamed
)

select * from normalized
