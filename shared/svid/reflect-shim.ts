/**
 * @peculiar/x509 registers its algorithms with tsyringe, which needs the Reflect metadata API
 * at load time. Import this module BEFORE '@peculiar/x509' (ES modules evaluate in import order).
 */
import 'reflect-metadata';
