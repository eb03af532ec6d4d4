{#- The default__ body of every dispatched macro: trellis supports DuckDB and
    PostgreSQL only, and an adapter without its own implementation must fail
    at compile time with the macro's name, not run another vendor's dialect. -#}
{% macro unsupported_adapter(macro_name) -%}
    {{ exceptions.raise_compiler_error(
        "trellis." ~ macro_name ~ " has no implementation for the '" ~ target.type
        ~ "' adapter: trellis supports duckdb and postgres (add " ~ target.type ~ "__" ~ macro_name ~ ")"
    ) }}
{%- endmacro %}
