{#- True when the regular expression matches anywhere in the string (unanchored;
    anchor with ^ and $ in the pattern). POSIX-style syntax common to both targets. -#}
{% macro regex_matches(string_expr, pattern_expr) -%}
    {{ return(adapter.dispatch('regex_matches', 'trellis')(string_expr, pattern_expr)) }}
{%- endmacro %}

{% macro postgres__regex_matches(string_expr, pattern_expr) -%}
    ({{ string_expr }} ~ {{ pattern_expr }})
{%- endmacro %}

{% macro duckdb__regex_matches(string_expr, pattern_expr) -%}
    regexp_matches({{ string_expr }}, {{ pattern_expr }})
{%- endmacro %}

{% macro default__regex_matches(string_expr, pattern_expr) -%}
    {{ trellis.unsupported_adapter('regex_matches') }}
{%- endmacro %}
