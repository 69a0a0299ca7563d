/** What the query service is built from (shared by its use-case files). */
import type { DatasetsService } from '../datasets/index.ts';
import type { Copies } from './query.copies.ts';
import type { EngineLimits, Scratch } from './query.engine.ts';
import type { PolicyLookup } from './query.relation.ts';

/** DuckDB's parser: SQL to parse tree (JSON) and back. */
export interface Parser {
  serialize(sql: string): Promise<string>;
  deserialize(json: string): Promise<string>;
}

export interface QueryDeps {
  datasets: Pick<DatasetsService, 'find' | 'versions' | 'open'>;
  scratch: Scratch;
  copies: Copies;
  parser: Parser;
  limits: EngineLimits;
  timeoutMs: number;
  maxConcurrent: number;
  /** Data policies (issue 17); absent: every reader reads every column and row. */
  policies?: PolicyLookup;
}
