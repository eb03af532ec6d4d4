{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Folder schemas (staging, lineage, costs...) are used as-is so BI users
        find the same schema names on every target. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
