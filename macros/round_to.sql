{#- A double rounded to `digits` decimals (half away from zero), as a double. -#}
{% macro round_to(expr, digits) -%}
    {{ return(adapter.dispatch('round_to', 'trellis')(expr, digits)) }}
{%- endmacro %}

{% macro default__round_to(expr, digits) -%}
    {{ exceptions.raise_compiler_error('round_to: no implementation for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__round_to(expr, digits) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}

{% macro postgres__round_to(expr, digits) -%}
    cast(round(cast({{ expr }} as numeric), {{ digits }}) as double precision)
{%- endmacro %}
