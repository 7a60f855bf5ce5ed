/**
 * The minimal Reflect metadata API that @peculiar/x509 needs at load time.
 *
 * @peculiar/x509 registers its algorithms with tsyringe, and tsyringe refuses to load unless a
 * Reflect metadata polyfill (normally the `reflect-metadata` package) is installed first. That
 * package is not among the project's dependencies, so this module supplies the five functions
 * tsyringe and tslib's `__metadata` call: per-target, per-property maps, looked up along the
 * prototype chain like `reflect-metadata` does. Import it BEFORE `@peculiar/x509` (ES modules are
 * evaluated in import order). Replace it with `import 'reflect-metadata'` if that package is added.
 */

type MetadataKey = unknown;
type PropertyKeyOrRoot = string | symbol | undefined;

interface ReflectMetadataApi {
  defineMetadata(key: MetadataKey, value: unknown, target: object, property?: string | symbol): void;
  getOwnMetadata(key: MetadataKey, target: object, property?: string | symbol): unknown;
  getMetadata(key: MetadataKey, target: object, property?: string | symbol): unknown;
  hasOwnMetadata(key: MetadataKey, target: object, property?: string | symbol): boolean;
  hasMetadata(key: MetadataKey, target: object, property?: string | symbol): boolean;
  metadata(key: MetadataKey, value: unknown): (target: object, property?: string | symbol) => void;
}

const store = new WeakMap<object, Map<PropertyKeyOrRoot, Map<MetadataKey, unknown>>>();

function ownMap(target: object, property: PropertyKeyOrRoot, create: boolean): Map<MetadataKey, unknown> | undefined {
  let byProperty = store.get(target);
  if (byProperty === undefined) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let map = byProperty.get(property);
  if (map === undefined && create) {
    map = new Map();
    byProperty.set(property, map);
  }
  return map;
}

function findMap(key: MetadataKey, target: object, property: PropertyKeyOrRoot): Map<MetadataKey, unknown> | undefined {
  for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
    const map = ownMap(t, property, false);
    if (map?.has(key)) return map;
  }
  return undefined;
}

const api: ReflectMetadataApi = {
  defineMetadata(key, value, target, property) {
    ownMap(target, property, true)?.set(key, value);
  },
  getOwnMetadata(key, target, property) {
    return ownMap(target, property, false)?.get(key);
  },
  getMetadata(key, target, property) {
    return findMap(key, target, property)?.get(key);
  },
  hasOwnMetadata(key, target, property) {
    return ownMap(target, property, false)?.has(key) ?? false;
  },
  hasMetadata(key, target, property) {
    return findMap(key, target, property) !== undefined;
  },
  metadata(key, value) {
    return (target, property) => api.defineMetadata(key, value, target, property);
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
if (typeof reflect.getMetadata !== 'function') {
  Object.assign(Reflect, api);
}
