{#- A key path as a DuckDB JSONPath: ['a', 0, 'b'] -> $.a[0].b -#}
{% macro duckdb_json_path(path) -%}
    {%- set ns = namespace(out='$') -%}
    {%- for key in path -%}
        {%- if key is number -%}
            {%- set ns.out = ns.out ~ '[' ~ key ~ ']' -%}
        {%- else -%}
            {%- set ns.out = ns.out ~ '.' ~ key -%}
        {%- endif -%}
    {%- endfor -%}
    {{ ns.out }}
{%- endmacro %}
