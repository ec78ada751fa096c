/**
 * Every topic the outlet publishes to or subscribes to, built from the prefix and the
 * discovery prefix in one place. Prefixes are at most 128 characters of [A-Za-z0-9_/-]
 * (the option table checks), object ids at most 64, so no topic comes near MQTT's limit.
 */
export type Component = 'sensor' | 'binary_sensor';

export interface Topics {
  /** Retained `online` / `offline`; also the will. */
  readonly status: string;
  /** Retained, QoS 1: the READ payload. */
  readonly reading: string;
  /** Retained: version, task, gpio, arch, node, startedAt. */
  readonly info: string;
  /** Home Assistant's birth topic (`<discovery>/status`), null when discovery is off. */
  readonly discoveryStatus: string | null;
  /** `<discovery>/<component>/<device-id>_<object>/config`. */
  config(component: Component, objectId: string): string;
}

export function buildTopics(prefix: string, discovery: string | null): Topics {
  return {
    status: `${prefix}/status`,
    reading: `${prefix}/reading`,
    info: `${prefix}/info`,
    discoveryStatus: discovery === null ? null : `${discovery}/status`,
    config: (component, objectId) => `${discovery ?? 'homeassistant'}/${component}/${objectId}/config`,
  };
}
