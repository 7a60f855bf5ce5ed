/**
 * The one entry to @peculiar/x509 for the Lambdas and the local stack. The library registers its
 * algorithms with tsyringe, which needs the Reflect metadata API when it loads; importing it here,
 * after 'reflect-metadata', means no other module has to remember the order.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
