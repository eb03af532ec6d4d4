{#- Parse a request record's messages and reply once, for the
    request_context_* macros (same alias). DuckDB: a typed struct from
    json_transform; PostgreSQL: the jsonb itself. -#}
{% macro request_context_parse(record, alias='_ctx') -%}
    {{ return(adapter.dispatch('request_context_parse', 'trellis')(record, alias)) }}
{%- endmacro %}

{% macro postgres__request_context_parse(record, alias='_ctx') -%}
    {{ record }} as {{ alias }}
{%- endmacro %}

{% macro duckdb__request_context_parse(record, alias='_ctx') -%}
    {%- set message = '{"role":"VARCHAR","content":"JSON","name":"VARCHAR","tool_calls":[{"id":"VARCHAR","function":{"name":"VARCHAR","arguments":"JSON"}}],"tool_call_id":"VARCHAR"}' -%}
    json_transform(
        {{ record }},
        '{"parent_request_id":"VARCHAR","request":{"messages":[{{ message }}]},"response":{"choices":[{"message":{{ message }}}]}}'
    ) as {{ alias }}
{%- endmacro %}

{% macro default__request_context_parse(record, alias='_ctx') -%}
    {{ trellis.unsupported_adapter('request_context_parse') }}
{%- endmacro %}
