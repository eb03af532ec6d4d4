{#- Select-list items for the fields parsed by json_fields_parse (same alias). -#}
{% macro json_fields_select(fields, alias='_doc') -%}
    {{ return(adapter.dispatch('json_fields_select', 'trellis')(fields, alias)) }}
{%- endmacro %}

{% macro postgres__json_fields_select(fields, alias='_doc') -%}
    {%- set pg_types = {'text': 'text', 'double': 'double precision', 'bigint': 'bigint', 'integer': 'integer', 'boolean': 'boolean'} -%}
    {%- for field in fields %}
        {%- if field.type == 'json' %}
        ({{ alias }} #> '{{ trellis.pg_json_path(field.path) }}')::text as {{ field.name }}
        {%- else %}
        cast({{ alias }} #>> '{{ trellis.pg_json_path(field.path) }}' as {{ pg_types[field.type] }}) as {{ field.name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro duckdb__json_fields_select(fields, alias='_doc') -%}
    {%- for field in fields %}
        {%- set ns = namespace(expr=alias) -%}
        {%- for key in field.path -%}
            {%- if key is number -%}
                {%- set ns.expr = ns.expr ~ '[' ~ (key + 1) ~ ']' -%}
            {%- else -%}
                {%- set ns.expr = ns.expr ~ '."' ~ key ~ '"' -%}
            {%- endif -%}
        {%- endfor %}
        {%- if field.type == 'json' %}
        cast({{ ns.expr }} as varchar) as {{ field.name }}
        {%- else %}
        {{ ns.expr }} as {{ field.name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro default__json_fields_select(fields, alias='_doc') -%}
    {{ trellis.unsupported_adapter('json_fields_select') }}
{%- endmacro %}
