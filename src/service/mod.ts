/**
 * rdhpf as a service: the LaunchAgent or systemd user unit (planned purely),
 * installed, removed and inspected through launchctl or systemctl.
 * Everything outside this folder uses it through this module.
 *
 * @module
 */
export { installService, serviceStatus, uninstallService } from "./install.ts";
export { canRunCommands, isExecutable } from "./manager_commands.ts";
export { launchdLogDir, planService, ServicePlatformSchema, type ServicePlatform } from "./plan.ts";
export { defaultUpgradeDeps, rollbackService, type UpgradeDeps, type UpgradeOptions, upgradeService } from "./upgrade.ts";
export { type InstalledService, listServices, nameForInstall, selectServices, serviceNameFor } from "./services.ts";
