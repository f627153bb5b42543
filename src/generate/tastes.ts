/**
 * Taste groups: the topics a synthetic learner is drawn to. Each interest tag, course tag and
 * assessment tag is assigned to at most one topic by the rules below (first match wins:
 * explicit names, then the topic patterns in order). The rules were written by reading the
 * 748 interest tags and the 998 course tags of the real data, grouping tags that co-occur on
 * real courses (e.g. maya/zbrush/3d-*; c#/asp.net/mvc*; docker/devops/azure). Tags no rule
 * claims are "general": followed only through popularity, never through a taste.
 */

export interface Topic {
  /** Short kebab-case name, as written to taste_groups.csv. */
  readonly name: string;
  readonly pattern: RegExp;
}

/** Topic order matters: earlier, more specific topics claim shared words first. */
export const TOPICS: readonly Topic[] = [
  {
    name: "3d-art",
    pattern:
      /^3d|3dmodeling|maya|3ds-max|zbrush|blender|houdini|cinema-4d|uv-?mapping|^modo$|mudbox|^mari$|substance|v-ray|arnold|renderman|mental-ray|^character-|hard-surface|^environment-|compositing|nuke|vfx|realflow|fumefx|matchmov|krakatoa|marvelous|motionbuilder|lightwave|speedtree|topogun|3d-coat|3dequalizer|pftrack|syntheyes|boujou|pfclean|pfdepth|hair-farm|maxwell|hdr|poser|sculpt|render|rigging|creative-pipeline|matte-painting|uvlayout|quixel|world-machine|katana|^massive$|backburner|alchemy|^silo$|ptgui|stitcher|trapcode|red-giant|turbulencefd|bodypaint|^mse$|pov-ray|photorealistic|visualization-rendering|texturing/,
  },
  {
    name: "game-dev",
    pattern:
      /game|unity|unreal|cryengine|stencyl|fmod|virtual-reality|augmented-reality|oculus|leap-motion|kinect|^lua$|hololens|vr-video|^xna$|monogame|libgdx|spritekit|kodu|sphero|scratch|stingray|wearable|google-glass|cinder/,
  },
  {
    name: "cad-engineering",
    pattern:
      /cad|revit|solidworks|inventor|fusion-360|sketchup|rhino$|^rhino|part-modeling|assembly-modeling|parametric|3d-printing|civil|structural|sheet-metal|mastercam|^cam$|camworks|fea-|ansys|ketiv|netfabb|onshape|tinkercad|archicad|grasshopper|medical-design|electronics|arduino|raspberry|bim|drafting|architecture-modeling|goengineer|solidbox|surface-modeling|casted|plastic-parts|mold|simulation|mechanical|electrical|plumbing|^mep$|manufacturing|automotive|industrial-design|woodwork|consumer-products|t-splines|free-form|multi-body|construction|architect-registration|architecture-licensing|^engineering$|design-optimization|^hsm$|internet-of-things|home-automation|keyshot|cad-assembly/,
  },
  {
    name: "security",
    pattern:
      /secur|penetration|cryptograph|authoriz|authentic|forensic|incident-response|malware|oauth|^adfs$|^wif$|identity|ethical-hacking|^xss$|threat|risk|compliance|^pci$|^ptes$|access-controls|data-protection|hacking|social-engineering|privacy/,
  },
  {
    name: "data-science",
    pattern:
      /python|data-analy|machine-learning|big-data|data-science|data-visual|^r-|hadoop|spark|mapreduce|^hive$|pig-latin|matlab|^math$|statistic|opencv|image-processing|encog|^data$|cuda|sentiment|speech-recognition|data-analytics|^analytics$|tableau|power-bi|elasticsearch|apache-solr|^search$|django|pycharm|google-big-query|alexa|^bots$|java-data-processing/,
  },
  {
    name: "databases",
    pattern:
      /sql|postgres|oracle|database|mongo|cassandra|redis|couchdb|^riak$|ravendb|rethinkdb|graph-databases|indexing|querying|data-modeling|^ssis$|^ssas$|^ssrs$|^mdx$|business-intelligence|data-warehous|reporting|dashboards|powerpivot|^ssms$|filestream|flyway|brightstardb|^etl$|star-schema|stored-procedures|triggers|transactions|relational|data-storage|data-access|data-management|xquery|^ssdt$|documentdb/,
  },
  {
    name: "cloud-devops",
    pattern:
      /cloud|devops|automation|azure|aws|docker|container|puppet|jenkins|continuous|build-automation|^build$|configuration-management|deployment|vagrant|teamcity|team-city|google-compute|^paas$|^iaas$|^baas$|microservices|release-management|capistrano|msbuild|it-automation|high-availability|scalab|scaling|performance-monitoring|^logging$|cloud-foundry/,
  },
  {
    name: "it-ops",
    pattern:
      /it-fundamentals|infrastructure|virtualization|operating-systems|endpoint|hardware|linux|windows-server|active-directory|vmware|vsphere|vcloud|storage|exchange|lync|skype|system-center|powershell|^bash$|routing|switching|tcpip|networking|wireless|comptia|xendesktop|xenapp|mobile-device-management|messaging-collaboration|messaging-and-collaboration|office-365|sharepoint|troubleshooting|^iis$|server-administration|backup|disaster-recovery|software-defined|unified-messaging|^wmi$|mainframe|cobol|group-policy|terminal|command-line|commvault|^itil$|application-management|management-and-monitoring|^mac$|delve|onedrive|yammer|logparser|^windows(-10|-7|-8)?$|windows-embedded|^server$|incident-management|productivity-apps-and-client-os/,
  },
  {
    name: "business",
    pattern:
      /project|agile|scrum|kanban|^lean$|leader|management|soft-skills|professional|communication|business|requirements|governance|productivity|office|excel|^word$|powerpoint|outlook|visio|^access$|^vba$|jira|career|self-marketing|entrepreneur|startup|marketing|social-media|^seo$|google-analytics|facebook|twitter|linkedin|google\+|googleplus|customer-service|crm|salesforce|dynamics|^sap$|abap|enterpriseone|^erp$|enterprise-resource|togaf|enterprise-architecture|product-|offshore|problem-solving|^travel$|^times$|licensing|presentations|resumes|interviewing|estimation|program-manage|portfolio|finacial|^publisher$|^microsoft$|lightning|^payments$|stripe|twilio|^sms$|blogging/,
  },
  {
    name: "creative-design",
    pattern:
      /adobe|photoshop|illustrat|after-effects|graphic|visual-design|ui-design|^ui$|ux-design|user-centered|interactive-design|web-design|typography|painting|photo|lightroom|video|premiere|motion-graphics|animat|indesign|incopy|print-design|publishing|sketch|invision|axure|balsamiq|omnigraffle|design-and-art|art-and-design|concept-|audio|^sound$|pro-tools|ableton|logic-pro|final-cut|davinci|avid-|toon-boom|information-architecture|wacom|acrobat|dreamweaver|^muse$|^flash$|edge-animate|color-|retouching|image-editing|creative-cloud|designer-productivity|web-graphics|comics|behance|corel|artrage|audition|speedgrade|^smoke$|broadcast|camera|dslr|^lens$|nikon|canon|layout|^craft$|trainsimple|pixel-bender|^design$/,
  },
  {
    name: "mobile",
    pattern:
      /android|ice-cream|^ios|swift|objective-c|xamarin|cocoapods|xcode|core-data|apple-watch|phonegap|cordova|ionic|nativescript|windows-phone|monotouch|universal-app|universal-windows|mobile|google-play|^intents$|^fragments$|firebase|^parse$|sencha|appcelerator|icenium|app-inventor|ibeacons|kotlin/,
  },
  {
    name: "web-frontend",
    pattern:
      /javascript|^js|html|css|jquery|bootstrap|typescript|es6|sass|^less$|stylus|postcss|ajax|angular|react|redux|^flux$|vue|ember|backbone|knockout|require-js|gulp|grunt|bower|browserify|d3|^svg$|webgl|web-components|^spa$|isomorphic|aurelia|meteor|extjs|kendo|dojo|durandal|handlebars|underscore|coffeescript|emmet|chrome|electron|polymer|marionette|jsrender|prototype\.js|sweet\.js|breeze|front-?end|responsive|web-development|^web$|cross-browser|progressive-web|wijmo|winjs|^haml$|^foundation$|web-optimization|webpagetest|web-compression|phantomjs|jasmine|mocha|express|node|io\.js|^koa$|^hapi$|json|websockets|real-time|^rtc$|full-stack|wordpress|^cms$|drupal|joomla|^ghost$|jekyll|umbraco|sitefinity|orchard|dotnetnuke|expression-engine|nop-commerce|markdown|web-mapping|google-maps|geolocation|location-services|accessibility|web-frameworks|back-?end-web|microsoft-edge|^php$|laravel/,
  },
  {
    name: "java",
    pattern:
      /^java($|-|fx)|spring|^sprig$|hibernate|^jpa$|^jvm$|scala|groovy|gradle|^ant$|maven|jersey|swing|rxjava|grails|clojure|^camel$|^cdi$|websphere|aspectj|servlet|jdbc|struts|netbeans|eclipse|jigsaw|^play|junit|bean-validation|java-server|^akka$/,
  },
  {
    name: "dotnet",
    pattern:
      /c#|csharp|c-sharp|\.net|dotnet|^asp|mvc|^ef$|entity|linq|wpf|xaml|windows-communication|webapi|signalr|^owin$|nuget|^vb|visual-basic|f#|f-sharp|fsharp|^clr$|^msil$|^tfs|team-foundation|resharper|silverlight|windows-forms|webforms|^ado|nhibernate|mvvm|model-view|^prism$|visual-studio|code-first|dbcontext|task-parallel|lightswitch|servicestack|orleans|akka\.net|^nancy$|nservicebus|masstransit|postsharp|glimpse|topshelf|^wix|clickonce|^moq$|nunit|xunit|mstest|fakeiteasy|microsoft-fakes|specflow|ncrunch|coderush|managed-extensibility|enterprise-library|windows-workflow|appfabric|biztalk|streaminsight|^interop$|^com$|^atl$|winrt|windows-(7|8)-development|windows-app-studio|windows-services|backgroundworker|extension-methods|type-providers|scriptcs|psake|marten|serilog|^seq$|polly|raygun|telerik|monodevelop|^mono$|console-applications|system-drawing|open-xml|aspose|code-contracts|codedui|event-tracing|direct2d|directcomposition|justmock|rhino-mock|teststack|specsfor|^fake$|webmatrix|dependency-injection|inversion-of-control|generics|crystal-reports|^odata$|windows-debugging/,
  },
  {
    name: "software-craft",
    pattern:
      /design-patterns|patterns|unit-testing|^tdd$|test|object-oriented|algorithm|data-structures|architecture|software|performance|async|functional|^git|source-control|version-control|subversion|^svn$|mercurial|^hg$|dependency|refactoring|solid|domain-driven|^ddd$|selenium|behavior-driven|gherkin|maintainable|readable|distributed|concurrency|threading|messag|queue|rabbitmq|c\+\+|cplusplus|^cpp$|c-plus-plus|^c$|golang|^rust$|haskell|ruby|^perl$|elixir|phoenix|erlang|computer-science|regular-expressions|debugging|developer|^vim$|emacs|sublime|webstorm|jetbrains|edge-code|^ide$|^http$|^rest|api|^soa$|web-services|^xml|interfaces|generic|programming|memory-management|metaprogramming|code|^uml$|n-tier|caching|validation|serialization|collections|operators|callbacks|state-machines|open-source|^dart$|^d$|dlang|^ada|^qt|boost|embedded-systems|preprocessor|practices|coding-dojo|technical-debt|documentation|localization|internationalization|^streaming$|reactive|^rx$|^aop$|^elm$|cold-fusion|^tools$|^frameworks$|fitnesse|^fiddler$|ndepend|^dates$|^integration$|external-integration|ui-testing|multi-tenant|^bitcoin$|enterprise-service-bus|^migration$|^tracing$|^jasmine$|^moq$|exception-handling|reflection/,
  },
];

/** Tags whose topic the patterns would get wrong. */
const EXPLICIT: Record<string, string> = {
  "mobile-design": "mobile",
  "windows-phone": "mobile",
  "memory-management": "software-craft",
  reactive: "software-craft",
  "image-processing": "data-science",
  "google-analytics": "business",
  "game-environment-art": "3d-art",
  "mobile-device-management": "it-ops",
  "api-design": "software-craft",
  "restful-api": "software-craft",
  "web-services": "software-craft",
  "unit-testing": "software-craft",
  "visual-studio-2010-performance-testing": "dotnet",
  "sql-server-2016": "databases",
  "azure-sql": "cloud-devops",
  "secure-coding": "security",
  "windows-azure": "cloud-devops",
  "lync-server-2013": "it-ops",
  "lync-server": "it-ops",
  "web-server-administration": "it-ops",
  "information-security": "security",
  "network-security": "security",
  "website-security": "security",
  "design-and-art": "creative-design",
  "art-and-design": "creative-design",
  "concept-design": "creative-design",
  "animation": "creative-design",
  "2d-animation": "creative-design",
  "application-virtualization": "it-ops",
  "desktop-virtualization": "it-ops",
  "software-defined-networking": "it-ops",
  "windows-10": "it-ops",
  "windows-server-management": "it-ops",
  "xml-reporting": "databases",
  "microsoft-test-manager": "dotnet",
  "audio": "creative-design",
  "digital-audio": "creative-design",
  "speech-synthesis": "software-craft",
  "using-microsoft-office-2016": "business",
  "azure-infrastructure-as-a-service": "cloud-devops",
  "indesign-cc-creative-professionals": "creative-design",
  "building-information-modeling": "cad-engineering",
  "cross-platform": "mobile",
  "marmoset-toolbag": "3d-art",
  ftrack: "3d-art",
  fusion: "3d-art",
  drush: "web-frontend",
  orm: "software-craft",
  "professional-development": "business",
  dotnetnuke: "web-frontend",
  "rhino-mock": "dotnet",
  "windows-communication-foundation": "dotnet",
  "mvc-html-helpers": "dotnet",
  nhibernate: "dotnet",
  "webforms-mobile": "dotnet",
  "real-time-communication": "web-frontend",
  invision: "creative-design",
  monodevelop: "dotnet",
  "regular-expressions": "software-craft",
  "avid-media-composer": "creative-design",
};

/** Index of each topic by name. */
export const TOPIC_INDEX: ReadonlyMap<string, number> = new Map(TOPICS.map((t, i) => [t.name, i]));

/** The topic index of a tag (case-insensitive), or -1 when no rule claims it. */
export function classifyTag(tag: string): number {
  const t = tag.trim().toLowerCase();
  const explicit = EXPLICIT[t];
  if (explicit !== undefined) return TOPIC_INDEX.get(explicit)!;
  for (let i = 0; i < TOPICS.length; i++) if (TOPICS[i].pattern.test(t)) return i;
  return -1;
}
