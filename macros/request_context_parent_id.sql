{#- The record's parent_request_id (explicit lineage), from request_context_parse. -#}
{% macro request_context_parent_id(alias='_ctx') -%}
    {{ return(adapter.dispatch('request_context_parent_id', 'trellis')(alias)) }}
{%- endmacro %}

{% macro postgres__request_context_parent_id(alias='_ctx') -%}
    ({{ alias }} ->> 'parent_request_id')
{%- endmacro %}

{% macro duckdb__request_context_parent_id(alias='_ctx') -%}
    {{ alias }}.parent_request_id
{%- endmacro %}

{% macro default__request_context_parent_id(alias='_ctx') -%}
    {{ trellis.unsupported_adapter('request_context_parent_id') }}
{%- endmacro %}
