// Command webhook is cert-manager's admission webhook (validation, mutation and CRD conversion),
// wired from the release module's own packages: its flags (pkg/webhook/options), its config-file
// decoder (pkg/webhook/configfile) and its server (internal/webhook). Upstream's
// cmd/webhook module, which does the same, is not served by the Go module proxy.
package main

import (
	"context"
	"os"

	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	webhookconfigfile "github.com/cert-manager/cert-manager/pkg/webhook/configfile"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
	"github.com/spf13/pflag"
	logsapi "k8s.io/component-base/logs/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cert-manager/cert-manager/harness-entrypoints/internal/cli"
)

func main() {
	cfg, err := options.NewWebhookConfiguration() // the v1alpha1 defaults, converted
	if err != nil {
		logf.Log.Error(err, "building the default webhook configuration")
		os.Exit(1)
	}
	// The webhook server is controller-runtime's: give it cert-manager's logger.
	ctrl.SetLogger(logf.Log)
	cli.Main(cli.Component{
		Name:     "webhook",
		AddFlags: func(fs *pflag.FlagSet) { options.AddConfigFlags(fs, cfg) },
		LoadFile: func(path string) error {
			file := webhookconfigfile.New()
			if err := cli.LoadFile(path, file); err != nil {
				return err
			}
			file.Config.DeepCopyInto(cfg)
			return nil
		},
		Gates:    func() map[string]bool { return cfg.FeatureGates },
		Validate: func() error { return validation.ValidateWebhookConfiguration(cfg, nil).ToAggregate() },
		Logging:  func() *logsapi.LoggingConfiguration { return &cfg.Logging },
		Run: func(ctx context.Context) error {
			log := logf.FromContext(ctx)
			v := util.VersionInfo()
			log.Info("starting cert-manager webhook", "version", v.GitVersion, "go_version", v.GoVersion, "platform", v.Platform)
			srv, err := cmwebhook.NewCertManagerWebhookServer(log, *cfg)
			if err != nil {
				return err
			}
			return srv.Run(ctx)
		},
	})
}
