/**
 * The functions user SQL may call. Anything not named here is refused before the statement runs:
 * table functions (`read_*`, `glob`, `query`, `duckdb_*`, `pragma_*`), settings and variables
 * (`getvariable`, `current_setting`), session and catalog introspection, and every function a
 * later DuckDB release adds until it is reviewed and listed here.
 */
const OPERATORS = [
  '+', '-', '*', '/', '//', '%', '**', '^', '||', '&', '|', '<<', '>>', '~', '!',
  '~~', '!~~', '~~*', '!~~*', '~~~', '!~~~', 'regexp_full_match', 'list_value', 'struct_pack', 'row',
  'array_extract', 'list_extract', 'struct_extract', 'array_slice', 'list_slice',
];
const AGGREGATES = [
  'count', 'count_star', 'sum', 'avg', 'mean', 'min', 'max', 'median', 'mode', 'quantile', 'quantile_cont',
  'quantile_disc', 'stddev', 'stddev_pop', 'stddev_samp', 'var_pop', 'var_samp', 'variance', 'string_agg',
  'group_concat', 'listagg', 'list', 'array_agg', 'first', 'last', 'any_value', 'arg_min', 'arg_max', 'argmin',
  'argmax', 'min_by', 'max_by', 'bool_and', 'bool_or', 'approx_count_distinct', 'approx_quantile', 'corr',
  'covar_pop', 'covar_samp', 'product', 'histogram', 'entropy', 'kurtosis', 'skewness', 'bit_and', 'bit_or',
  'bit_xor', 'fsum', 'sumkahan', 'regr_slope', 'regr_intercept', 'regr_r2', 'regr_count', 'count_if', 'countif',
];
const WINDOWS = [
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value',
  'last_value', 'nth_value',
];
const SCALARS = [
  // numbers
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sign', 'sqrt', 'cbrt', 'exp', 'ln', 'log', 'log10', 'log2',
  'pow', 'power', 'mod', 'greatest', 'least', 'isnan', 'isinf', 'isfinite', 'even', 'factorial', 'gcd', 'lcm',
  'pi', 'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'bit_count', 'xor',
  // null handling and conditionals
  'coalesce', 'ifnull', 'nullif', 'if', 'iff',
  // strings
  'lower', 'upper', 'lcase', 'ucase', 'length', 'len', 'strlen', 'char_length', 'character_length',
  'octet_length', 'bit_length', 'substring', 'substr', 'left', 'right', 'trim', 'ltrim', 'rtrim', 'concat',
  'concat_ws', 'replace', 'reverse', 'repeat', 'lpad', 'rpad', 'position', 'strpos', 'instr', 'starts_with',
  'ends_with', 'contains', 'prefix', 'suffix', 'split_part', 'string_split', 'str_split', 'regexp_matches',
  'regexp_replace', 'regexp_extract', 'regexp_split_to_array', 'like_escape', 'ilike_escape', 'ascii', 'chr',
  'format', 'printf', 'md5', 'sha1', 'sha256', 'hash', 'levenshtein', 'jaccard', 'jaro_winkler_similarity',
  'damerau_levenshtein', 'hamming', 'editdist3', 'translate', 'initcap', 'strip_accents', 'unicode', 'ord',
  'to_base64', 'from_base64', 'base64', 'encode', 'decode', 'string_to_array', 'array_to_string',
  // dates and times
  'date_part', 'datepart', 'date_trunc', 'datetrunc', 'extract', 'year', 'month', 'day', 'dayofmonth',
  'dayofweek', 'isodow', 'dayofyear', 'doy', 'hour', 'minute', 'second', 'millisecond', 'microsecond', 'week',
  'weekofyear', 'yearweek', 'quarter', 'epoch', 'epoch_ms', 'strftime', 'strptime', 'try_strptime', 'make_date',
  'make_time', 'make_timestamp', 'date_diff', 'datediff', 'date_sub', 'datesub', 'date_add', 'age', 'last_day',
  'dayname', 'monthname', 'to_days', 'to_hours', 'to_minutes', 'to_seconds', 'to_months', 'to_years',
  'to_weeks', 'to_timestamp', 'time_bucket', 'era', 'decade', 'century', 'millennium', 'isoyear',
  // lists and structs
  'list_contains', 'list_has', 'array_contains', 'list_position', 'list_transform', 'list_apply', 'array_apply',
  'apply', 'list_filter', 'array_filter', 'filter', 'list_sort', 'array_sort', 'list_reverse_sort', 'list_distinct',
  'array_distinct', 'list_unique', 'list_aggregate', 'list_sum', 'list_min', 'list_max', 'list_avg',
  'array_length', 'list_concat', 'array_concat', 'list_cat', 'flatten', 'unnest', 'generate_series', 'range',
  'list_reduce', 'list_zip', 'struct_insert', 'map', 'map_extract', 'map_keys', 'map_values', 'cardinality',
  'element_at', 'array_has', 'array_position', 'list_element',
  // grouping, types
  'grouping', 'grouping_id', 'typeof', 'try_cast', 'nextafter',
];

export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set(
  [...OPERATORS, ...AGGREGATES, ...WINDOWS, ...SCALARS].map((f) => f.toLowerCase()),
);
