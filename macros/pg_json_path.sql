{#- A key path as a PostgreSQL text[] literal body: ['a', 0, 'b'] -> {a,0,b}. -#}
{% macro pg_json_path(path) -%}
    {{ '{' ~ (path | join(',')) ~ '}' }}
{%- endmacro %}
