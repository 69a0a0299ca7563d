/** The access module's public face. */
export { authorize, type Decision } from './authorize.ts';
