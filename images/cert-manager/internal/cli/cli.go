// Package cli is the command-line shell the three cert-manager binaries built here share.
//
// Upstream keeps each binary's main package (and its cobra command) in a separate Go module
// under cmd/ that the Go module proxy does not serve. Every one of those commands does the same
// thing around its component: build the defaulted configuration, register flags on it, load the
// optional --config file and re-parse the flags over it (flags win), apply feature gates, validate,
// apply the logging options, run. This package does that once; each main.go says what differs.
package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cert-manager/cert-manager/internal/cmd/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	logsapi "k8s.io/component-base/logs/api/v1"
)

// Component is what differs between the binaries. Every function works on the component's own
// configuration object, which the closures capture.
type Component struct {
	Name     string                               // logger name and command name
	AddFlags func(fs *pflag.FlagSet)              // flags that write into the configuration
	LoadFile func(path string) error              // replace the configuration by a --config file's
	Gates    func() map[string]bool               // the configuration's feature gates
	Validate func() error                         // the release's own validation of the configuration
	Logging  func() *logsapi.LoggingConfiguration // the configuration's logging options
	Run      func(ctx context.Context) error
}

// Main runs the component as its process and exits with the code upstream's mains use.
func Main(c Component) {
	// SetupExitHandler: the first SIGTERM cancels ctx (graceful shutdown), a second exits now.
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit() // may call os.Exit: deferred first so it runs last

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, c.Name)

	if err := command(c, os.Args[1:]).ExecuteContext(ctx); err != nil {
		logf.Log.Error(err, "error executing command")
		util.SetExitCode(err)
	}
}

func command(c Component, args []string) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:           c.Name,
		Short:         "cert-manager " + c.Name + " (entry point built by helm-e2e-harness from the release module)",
		SilenceErrors: true, // Main logs the error once
		SilenceUsage:  true,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			// Gates from the flags first: decoding the file may depend on them (upstream does
			// the same), then again from the merged configuration.
			if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(c.Gates()); err != nil {
				return fmt.Errorf("feature gates: %w", err)
			}
			if configPath != "" {
				abs, err := filepath.Abs(configPath)
				if err != nil {
					return fmt.Errorf("config file %s: %w", configPath, err)
				}
				if err := c.LoadFile(abs); err != nil {
					return fmt.Errorf("config file %s: %w", abs, err)
				}
				// The file replaced the whole configuration: parse the flags again so that
				// flags given on the command line override the file, as upstream documents.
				if err := cmd.ParseFlags(args); err != nil {
					return fmt.Errorf("re-parsing flags after the config file: %w", err)
				}
			}
			if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(c.Gates()); err != nil {
				return fmt.Errorf("feature gates: %w", err)
			}
			if err := c.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			return logf.ValidateAndApply(c.Logging())
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return c.Run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&configPath, "config", "", "path to a file holding the component's configuration object (flags override it)")
	c.AddFlags(cmd.Flags())
	cmd.SetArgs(args)
	return cmd
}

// LoadFile decodes a configuration file with the release's own decoder (defaulting and
// relative-path resolution included) into file, which the caller copies from.
func LoadFile(path string, file configfile.ConfigFile) error {
	loader, err := configfile.NewConfigurationFSLoader(nil, path)
	if err != nil {
		return err
	}
	return loader.Load(file)
}
