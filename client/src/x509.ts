/**
 * The workload client's one entry to @peculiar/x509: the library registers its algorithms with
 * tsyringe, which needs the Reflect metadata API when it loads, so 'reflect-metadata' comes first.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
