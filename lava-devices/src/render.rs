//! The template engine, configured as LAVA 2020.01's Jinja2 environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lava_proto::yaml::{Mapping, Value};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value as JValue;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, TemplateSource, UndefinedBehavior};

use crate::compat;
use crate::config::DeviceConfig;
use crate::context;
use crate::error::{DeviceError, RenderError};
use crate::filters;
use crate::jinja2;
use crate::search_path::{self, LoadError, SearchPath};

/// Device-type templates and device dictionaries on a search path, rendered
/// the way LAVA 2020.01 renders them.
///
/// The environment matches LAVA's Jinja2 one: the folders of the search
/// path are searched in order (for devices: the dictionary folder first,
/// then the device-type folders), `trim_blocks` on, `lstrip_blocks` off,
/// one trailing newline dropped, no autoescaping, lenient undefined values
/// (they print as nothing, `default()` replaces them, reading an
/// attribute of one is an error), order-preserving maps, Python's methods
/// (`d.get(k)`, `d.items()`, `s.split()`...), Jinja2's `indent`, `int`
/// and `%`, Jinja2's block scoping, and no `debug` global (a dictionary
/// may use a variable of that name). The filters that later LAVA
/// releases add (`shlex_quote`, `yaml_quote`, `qemu_guest_fs_interface`)
/// are available too.
///
/// Compiled templates are cached; a file that changes on disk is read
/// again on its next use (as Jinja2's `auto_reload` does), unless
/// [`set_auto_reload(false)`](Self::set_auto_reload) says not to check.
///
/// Rendering never panics; every failure is a [`RenderError`] that names
/// the template file and line, or for a missing template the search path.
///
/// ```
/// use lava_devices::TemplateSet;
/// use lava_proto::yaml::Mapping;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(
///     dir.path().join("board.jinja2"),
///     "commands:\n  power_on: {{ power_on_command|default('true') }}\n{% for b in boards %}\n- {{ b }}\n{% endfor %}\n",
/// )
/// .unwrap();
/// let templates = TemplateSet::new([dir.path()]);
/// let context = lava_proto::yaml::load("boards: [a, b]").unwrap();
/// let text = templates
///     .render("board.jinja2", context.as_mapping().unwrap())
///     .unwrap();
/// assert_eq!(text, "commands:\n  power_on: true\n- a\n- b\n");
///
/// let err = templates.render("missing.jinja2", &Mapping::new()).unwrap_err();
/// assert!(err.to_string().contains("not found in the search path"));
/// ```
pub struct TemplateSet {
    env: Environment<'static>,
    search_path: Arc<SearchPath>,
    /// The file each loaded template name came from (for error messages).
    loaded: Arc<Mutex<HashMap<String, PathBuf>>>,
}

impl std::fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateSet")
            .field("search_path", &self.search_path.dirs())
            .finish_non_exhaustive()
    }
}

impl TemplateSet {
    /// Templates read from `search_path`, searched in order (first hit
    /// wins). For device dictionaries pass the dictionary folder first,
    /// then the device-type folders (LAVA: `devices/`, then
    /// `device-types/`); for bare device types only the latter.
    pub fn new<I, P>(search_path: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let search_path = Arc::new(SearchPath::new(
            search_path
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
        ));
        let loaded = Arc::new(Mutex::new(HashMap::new()));
        let mut env = Environment::new();
        configure(&mut env);
        let loader_path = Arc::clone(&search_path);
        let loader_loaded = Arc::clone(&loaded);
        env.set_loader(move |name| load(&loader_path, &loader_loaded, name));
        TemplateSet {
            env,
            search_path,
            loaded,
        }
    }

    /// The folders searched, in order.
    pub fn search_path(&self) -> &[PathBuf] {
        self.search_path.dirs()
    }

    /// Whether a template file that changed on disk is read again on its
    /// next use (default: yes, one `stat` per template per render).
    pub fn set_auto_reload(&mut self, yes: bool) {
        self.env.set_auto_reload(yes);
    }

    /// Forgets every compiled template (they are read again when used).
    pub fn clear_cache(&mut self) {
        self.env.clear_templates();
    }

    /// Renders the template `name` (e.g. `staging-bbb-01.jinja2` for a
    /// device, `beaglebone-black.jinja2` for a bare device type) from the
    /// search path with the job `context` as top-level variables (LAVA's
    /// `render(**job_ctx)`; an empty mapping outside of a job).
    ///
    /// The text is returned exactly as rendered: it is the device
    /// configuration that LAVA writes to `device.yaml`.
    pub fn render(&self, name: &str, context: &Mapping) -> Result<String, RenderError> {
        let ctx = render_context(context)?;
        self.env
            .get_template(name)
            .and_then(|template| template.render(ctx))
            .map_err(|err| self.convert(err))
    }

    /// Render a device's dictionary (the template `HOSTNAME.jinja2`, which
    /// extends its device type's) with a job's `context`: the device
    /// configuration the master sends in START.
    pub fn render_device(
        &self,
        hostname: &str,
        dictionary: Option<&str>,
        context: &Mapping,
    ) -> Result<String, DeviceError> {
        let dictionary = dictionary.ok_or_else(|| DeviceError::NoDictionary {
            hostname: hostname.to_string(),
        })?;
        Ok(self.render_str(&format!("{hostname}.jinja2"), dictionary, context)?)
    }

    /// Render a device's dictionary without a job and parse the result:
    /// whether the device can run jobs as configured (the master's check
    /// before it schedules on a device, and `lava-server manage devices
    /// check`).
    pub fn check_device(
        &self,
        hostname: &str,
        dictionary: Option<&str>,
    ) -> Result<DeviceConfig, DeviceError> {
        let text = self.render_device(hostname, dictionary, &Mapping::new())?;
        DeviceConfig::from_yaml(&text).map_err(|source| DeviceError::Config {
            hostname: hostname.to_string(),
            source,
        })
    }

    /// Renders template text that is not a file, named `name` in error
    /// messages: a device dictionary kept as data (in a database), whose
    /// `{% extends %}` is still looked up on the search path.
    ///
    /// ```
    /// use lava_devices::TemplateSet;
    /// use lava_proto::yaml::Mapping;
    ///
    /// let types = tempfile::tempdir().unwrap();
    /// std::fs::write(
    ///     types.path().join("board.jinja2"),
    ///     "connect: {{ connection_command }}\n",
    /// )
    /// .unwrap();
    /// let templates = TemplateSet::new([types.path()]);
    /// let dictionary = "{% extends 'board.jinja2' %}\n{% set connection_command = 'telnet ser2net 7001' %}\n";
    /// let text = templates
    ///     .render_str("bbb-01.jinja2", dictionary, &Mapping::new())
    ///     .unwrap();
    /// assert_eq!(text, "connect: telnet ser2net 7001");
    /// ```
    pub fn render_str(
        &self,
        name: &str,
        source: &str,
        context: &Mapping,
    ) -> Result<String, RenderError> {
        let ctx = render_context(context)?;
        let prepared = compat::prepare(source, name);
        self.env
            .render_named_str(name, &prepared, ctx)
            .map_err(|err| self.convert(err))
    }

    fn convert(&self, err: Error) -> RenderError {
        let referenced_from = err
            .name()
            .map(|name| (name.to_string(), err.line().unwrap_or(0)));
        let mut source: Option<&(dyn std::error::Error + 'static)> =
            std::error::Error::source(&err);
        while let Some(cause) = source {
            if let Some(load) = cause.downcast_ref::<LoadError>() {
                return match load {
                    LoadError::NotFound { name } => RenderError::NotFound {
                        name: name.clone(),
                        search_path: self.search_path.dirs().to_vec(),
                        referenced_from,
                    },
                    LoadError::Refused { name, reason } => RenderError::Refused {
                        name: name.clone(),
                        reason: reason.clone(),
                        referenced_from,
                    },
                    LoadError::Unreadable { path, reason } => RenderError::Unreadable {
                        path: path.clone(),
                        reason: reason.clone(),
                    },
                };
            }
            source = cause.source();
        }
        let template = err.name().map(str::to_string);
        let path = template.as_ref().and_then(|name| {
            self.loaded
                .lock()
                .ok()
                .and_then(|loaded| loaded.get(name).cloned())
        });
        let message = match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        };
        RenderError::Template {
            template,
            path,
            line: err.line(),
            message,
        }
    }
}

/// Settings and functions of LAVA's Jinja2 environment on `env`.
fn configure(env: &mut Environment<'static>) {
    let mut syntax = SyntaxConfig::builder();
    // compat::prepare already dropped the trailing newline the way Jinja2's
    // lexer does (together with its line-ending normalisation).
    syntax.trim_blocks(true).keep_trailing_newline(true);
    env.set_syntax(syntax.build().expect("the default delimiters are valid"));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_debug(false);
    // Jinja2 has no `debug` global; minijinja's would shadow a variable
    // of that name (`debug|default('debug')`).
    env.remove_global("debug");
    env.set_formatter(jinja2::format_value);
    env.set_unknown_method_callback(jinja2::call_method);
    env.add_filter("indent", jinja2::indent);
    env.add_filter("int", jinja2::int);
    env.add_filter(compat::MOD_FILTER, jinja2::percent);
    env.add_filter(compat::ITERABLE_FILTER, jinja2::iterable);
    env.add_filter("shlex_quote", filters::shlex_quote);
    env.add_filter("yaml_quote", filters::yaml_quote);
    env.add_filter("qemu_guest_fs_interface", filters::qemu_guest_fs_interface);
}

fn load(
    search_path: &SearchPath,
    loaded: &Mutex<HashMap<String, PathBuf>>,
    name: &str,
) -> Result<Option<TemplateSource>, Error> {
    let file = match search_path.load(name) {
        Ok(Some(file)) => file,
        Ok(None) => {
            return Err(loader_error(
                ErrorKind::TemplateNotFound,
                LoadError::NotFound {
                    name: name.to_string(),
                },
            ))
        }
        Err(err) => {
            let kind = match err {
                LoadError::NotFound { .. } => ErrorKind::TemplateNotFound,
                _ => ErrorKind::InvalidOperation,
            };
            return Err(loader_error(kind, err));
        }
    };
    if let Ok(mut loaded) = loaded.lock() {
        loaded.insert(name.to_string(), file.path.clone());
    }
    let source = TemplateSource::new(compat::prepare(&file.text, name).into_owned());
    let path = file.path;
    let stamp = file.stamp;
    Ok(Some(source.with_uptodate_check(move || {
        search_path::stamp(&path) == stamp
    })))
}

fn loader_error(kind: ErrorKind, err: LoadError) -> Error {
    Error::new(kind, err.to_string()).with_source(err)
}

/// The job context as the top-level variables of a render.
fn render_context(context: &Mapping) -> Result<JValue, RenderError> {
    for (key, _) in context.iter() {
        if !matches!(key, Value::String(_)) {
            return Err(RenderError::Context(format!(
                "variable names must be strings, not {} ({key})",
                key.type_name()
            )));
        }
    }
    Ok(context::mapping_to_template(context))
}
