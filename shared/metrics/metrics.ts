/**
 * The metrics seam: use cases take a `MetricsSink` in their dependencies and call `emit(name,
 * value)`; the unit comes from the catalogue. The production sink buffers into Powertools Metrics
 * (one instance per process), which the Middy chains flush as one EMF document per invocation
 * (`metricsMiddleware`); a metric with an extra dimension is flushed at once as its own document.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { setting } from '../config';
import { logger } from '../logger';
import { METRICS_NAMESPACE, METRICS_SERVICE, metricCatalog, type MetricName } from './catalog';

export interface MetricsSink {
  /** Records one value of `name` (unit from the catalogue); `extra` is the metric's extra dimension value, if it has one. */
  emit(name: MetricName, value: number, extra?: string): void;
}

/** For use cases whose tests do not look at metrics. */
export const noMetrics: MetricsSink = { emit: () => undefined };

let metrics: Metrics | undefined;
let stageSet = false;

/**
 * The process's Powertools Metrics (namespace Trellis, dimension service=trellis). The Middy chains
 * hold it from module load; the stage dimension is added by the first sink (a function that emits
 * nothing, such as Billing, never needs STAGE).
 */
export function powertoolsMetrics(): Metrics {
  metrics ??= new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    // Most invocations emit nothing; Powertools' "no metrics to publish" notice is debug-level here.
    logger: { trace: () => undefined, debug: (...a: unknown[]) => logger.debug(String(a[0])), info: (...a: unknown[]) => logger.debug(String(a[0])), warn: (...a: unknown[]) => logger.debug(String(a[0])), error: (...a: unknown[]) => logger.error(String(a[0])) },
  });
  return metrics;
}

/** The process's Metrics with its stage dimension (every document Trellis writes carries it). */
function stageMetrics(): Metrics {
  const m = powertoolsMetrics();
  if (!stageSet) {
    m.setDefaultDimensions({ stage: setting('STAGE') });
    stageSet = true;
  }
  return m;
}

export class PowertoolsMetricsSink implements MetricsSink {
  constructor(private readonly target: Metrics = stageMetrics()) {}

  emit(name: MetricName, value: number, extra?: string): void {
    const entry = metricCatalog[name];
    const unit = MetricUnit[entry.unit];
    this.target.addMetric(name, unit, value);
    if ('extraDimension' in entry && extra !== undefined) {
      const single = this.target.singleMetric();
      single.addDimension(entry.extraDimension, extra);
      single.addMetric(name, unit, value);
    }
  }
}

/** Flushes the invocation's metrics after the handler (also when it throws). */
export const metricsMiddleware = () => logMetrics(powertoolsMetrics());
