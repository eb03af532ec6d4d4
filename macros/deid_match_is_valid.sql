{#- True when a detector's match passes the detector's validator (seed
    deid_detectors): luhn, mod97, phone_digits, hex_digits, or none. The same
    checks as trellis.datasets.deid, in SQL. DuckDB only (datasets build on
    the DuckDB workbench). -#}
{% macro deid_match_is_valid(validator_expr, value_expr) -%}
    {{ return(adapter.dispatch('deid_match_is_valid', 'trellis')(validator_expr, value_expr)) }}
{%- endmacro %}

{% macro default__deid_match_is_valid(validator_expr, value_expr) -%}
    {#- raised when run, not when parsed: models disabled on this target are still parsed -#}
    {%- if execute %}{{ exceptions.raise_compiler_error(
        "deid_match_is_valid is implemented for DuckDB only (datasets build on the DuckDB workbench), not for " ~ adapter.type()
    ) }}{% endif -%}
{%- endmacro %}

{% macro duckdb__deid_match_is_valid(validator_expr, value_expr) -%}
    (case {{ validator_expr }}
        when 'luhn' then
            length(regexp_replace({{ value_expr }}, '[^0-9]', '', 'g')) between 13 and 19
            and list_sum(list_transform(
                list_reverse(string_split(regexp_replace({{ value_expr }}, '[^0-9]', '', 'g'), '')),
                lambda digit, i: case
                    when i % 2 = 0 then (digit::int * 2) % 10 + (digit::int * 2) // 10
                    else digit::int
                end
            )) % 10 = 0
        when 'mod97' then
            length(replace({{ value_expr }}, ' ', '')) between 15 and 34
            and list_reduce(
                list_transform(
                    string_split(
                        upper(replace({{ value_expr }}, ' ', '')[5:] || replace({{ value_expr }}, ' ', '')[1:4]),
                        ''
                    ),
                    lambda ch: case when ch between 'A' and 'Z' then ascii(ch) - 55 else ch::int end
                ),
                lambda acc, n: (acc * case when n >= 10 then 100 else 10 end + n) % 97,
                0
            ) = 1
        when 'phone_digits' then length(regexp_replace({{ value_expr }}, '[^0-9]', '', 'g')) between 8 and 15
        when 'hex_digits' then length(regexp_replace({{ value_expr }}, '[^0-9A-Fa-f]', '', 'g')) >= 4
        else true
    end)
{%- endmacro %}
